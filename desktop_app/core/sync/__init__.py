"""Moving data between installs as files: profiles (units and keys), signed and encrypted
incremental packages, merging them field by field, conflicts, and what the sync centre shows.

    >>> from desktop_app.core.sync import PACKAGE_SUFFIX, PROFILE_SUFFIX
    >>> PACKAGE_SUFFIX, PROFILE_SUFFIX
    ('.mstz', '.msprofile')
"""
from .clock import check_clock, clock_problem, repair_clock
from .conflicts import list_conflicts, resolve_conflict
from .held import HELD_BYTES_PER_SENDER, HELD_PER_SENDER, HeldPackage, discard_held, list_held
from .incoming import ImportSummary, gaps, import_package
from .outgoing import Exported, export_package
from .package_file import SUFFIX as PACKAGE_SUFFIX
from .package_file import PackageError
from .peers import COUNTS
from .profiles import SUFFIX as PROFILE_SUFFIX
from .profiles import (Profile, ProfileError, Rotation, export_profile, import_profile, init_from_profile,
                       read_profile, rotate_keys, units_to_start)
from .status import (KIND_NAMES, ConflictView, Destination, Identity, PeerInfo, ReceivedPackage,
                     SentPackage, SourceStatus, conflict_views, counts_text, destinations,
                     identity, ledger_label, level_name, peer_list, ranges_text,
                     received_packages, sources, spaced_fingerprint)
from .release import accept_held, confirm_peer, reject_peer, retry_held
from .trust import FingerprintMismatch, PendingPeer, check_fingerprint, normalise_fingerprint, pending_peers

__all__ = [
    "COUNTS", "HELD_BYTES_PER_SENDER", "HELD_PER_SENDER", "KIND_NAMES", "PACKAGE_SUFFIX", "PROFILE_SUFFIX", "ConflictView", "Destination",
    "Exported", "FingerprintMismatch", "HeldPackage", "Identity", "ImportSummary", "PackageError",
    "PeerInfo", "PendingPeer", "Profile", "accept_held", "check_clock", "check_fingerprint", "clock_problem",
    "confirm_peer", "discard_held", "list_held",
    "normalise_fingerprint", "pending_peers", "reject_peer", "repair_clock", "retry_held",
    "ProfileError", "ReceivedPackage", "Rotation", "SentPackage", "SourceStatus", "conflict_views",
    "counts_text", "destinations", "export_package", "export_profile", "gaps", "identity",
    "import_package", "import_profile", "init_from_profile", "ledger_label", "level_name",
    "list_conflicts", "peer_list", "ranges_text", "read_profile", "received_packages",
    "resolve_conflict", "rotate_keys", "sources", "spaced_fingerprint", "units_to_start",
]
