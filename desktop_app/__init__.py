"""民生实事台账 — offline ledgers of a district's livelihood projects."""

__version__ = "0.1.0"
