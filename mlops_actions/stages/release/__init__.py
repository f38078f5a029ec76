"""The release stage: gate the production branch's model against production, claim a version, publish it.

1. A commit already released is not released again: its version is verified and completed instead (files
   with their digests, the tag on the commit, ``production`` where it should be, leftovers of an
   interrupted publish cleared), so a re-run after a kill at any point finishes the release.
2. The model is the one built for the pull request when it is provably the same (see
   :func:`promotable_candidate`), else it is trained now; either way it is gated against the registry's
   production version (absolute bounds only when there is none).
3. The bump is ``--bump``/MLOPS_BUMP, else the commit's ``Release-Bump:`` trailer, else the merged pull
   request's ``release:major``/``release:minor``/``release:patch`` label, else minor.
4. The next version is claimed by publishing it: the registry's atomic step (a tag ref on GitHub, the
   release on GitLab, the rename of a staged folder locally, the lowest model version number in MLflow)
   lets one release win; a loser takes the next number, so racing releases end with distinct versions.
5. Published with the model: metadata (with the release lineage), the model card, the result and the
   training-data profile. ``production`` moves to the new version unless a newer commit already holds it.

Modules: :mod:`.run` (the stage as a sequence of steps), :mod:`.checkout`, :mod:`.bump`, :mod:`.candidate`,
:mod:`.publication` (lineage and staged files), :mod:`.claim` (the version claim, resumed after a kill),
:mod:`.completion` (tag and ``production``), :mod:`.outcome`, and :mod:`.ci_context`, the one module that
reads the CI environment.
"""

from mlops_actions.stages.release.bump import (
    BUMP_TRAILER,
    LABEL_PREFIX,
    BumpChoice,
    bump_from_commit,
    choose_bump,
    choose_release_bump,
)
from mlops_actions.stages.release.candidate import (
    CANDIDATE_SOURCES,
    MODEL_DIR,
    PR_CANDIDATE_DIR,
    PROMOTION_LIBRARIES,
    RESULT_FILE,
    Candidate,
    candidate_to_promote,
    fetch_github_candidate,
    promotable_candidate,
    release_candidate,
)
from mlops_actions.stages.release.checkout import Checkout, clean_checkout
from mlops_actions.stages.release.ci_context import (
    GITLAB_MERGE_PATTERN,
    MERGE_PATTERNS,
    ci_branch,
    pr_labels,
    pr_number_of,
    run_url,
)
from mlops_actions.stages.release.claim import (
    CONCURRENT_POLL_SECONDS,
    CONCURRENT_WAIT_SECONDS,
    MAX_CLAIM_ATTEMPTS,
    publish_next_version,
    version_of_commit,
)
from mlops_actions.stages.release.completion import complete_release, move_production
from mlops_actions.stages.release.outcome import ReleaseOutcome
from mlops_actions.stages.release.publication import CARD_FILE, PROFILE_FILE, StagedRelease, release_lineage
from mlops_actions.stages.release.run import run_release

__all__ = [
    "BUMP_TRAILER",
    "CANDIDATE_SOURCES",
    "CARD_FILE",
    "CONCURRENT_POLL_SECONDS",
    "CONCURRENT_WAIT_SECONDS",
    "GITLAB_MERGE_PATTERN",
    "LABEL_PREFIX",
    "MAX_CLAIM_ATTEMPTS",
    "MERGE_PATTERNS",
    "MODEL_DIR",
    "PROFILE_FILE",
    "PROMOTION_LIBRARIES",
    "PR_CANDIDATE_DIR",
    "RESULT_FILE",
    "BumpChoice",
    "Candidate",
    "Checkout",
    "ReleaseOutcome",
    "StagedRelease",
    "bump_from_commit",
    "candidate_to_promote",
    "choose_bump",
    "choose_release_bump",
    "ci_branch",
    "clean_checkout",
    "complete_release",
    "fetch_github_candidate",
    "move_production",
    "pr_labels",
    "pr_number_of",
    "promotable_candidate",
    "publish_next_version",
    "release_candidate",
    "release_lineage",
    "run_release",
    "run_url",
    "version_of_commit",
]
