"""Privacy rules every surface applies, kept in one place.

- Minimum group size: an aggregate (a count, a share, a bar in a value mix, a ranking derived from
  them) is shown only when the group it describes has at least :data:`MIN_GROUP_SIZE` people.
- Individual names: in the ``works-council`` privacy profile no surface shows per-person figures.
"""

from __future__ import annotations

from storage.models import Workspace

MIN_GROUP_SIZE = 5
WORKS_COUNCIL = "works-council"


def min_group_size(workspace: Workspace) -> int:
    """The smallest group an aggregate may describe in this workspace."""
    return MIN_GROUP_SIZE


def min_group_ok(n: int, workspace: Workspace) -> bool:
    """True if a figure about ``n`` distinct people may be shown."""
    return n >= min_group_size(workspace)


def names_allowed(workspace: Workspace) -> bool:
    """False in the works-council profile: only aggregates, never individual names or rankings."""
    return workspace.privacy_profile != WORKS_COUNCIL
