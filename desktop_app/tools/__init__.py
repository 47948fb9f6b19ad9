"""Developer tools shipped with the app (screenshots for the README and the help)."""
