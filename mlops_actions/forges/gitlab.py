"""The GitLab forge: one sticky merge request note per model, through the Notes API.

Works on gitlab.com and self-managed instances: the API base URL comes from ``CI_API_V4_URL``, the project
from ``CI_PROJECT_ID`` and the merge request from ``MLOPS_MR_IID`` or ``CI_MERGE_REQUEST_IID`` (set in merge
request pipelines). The CI/CD job token cannot create or edit notes, so the note is written with the
``PRIVATE-TOKEN`` in ``MLOPS_GITLAB_TOKEN``: a project access token with scope ``api`` and at least the
Reporter role, stored as a masked CI/CD variable.

The note's first line is a hidden marker naming the model (:func:`mlops_actions.forges.base.sticky_marker`);
a later post finds it among the merge request's notes (every page, oldest first, system notes skipped)
and edits it in place. Notes with another marker, or none, are never touched.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlops_actions.errors import ForgeError
from mlops_actions.forges.base import CommentResult, sticky_marker, with_marker
from mlops_actions.gitlab_api import (
    NOTE_TOKEN_HINT,
    Access,
    GitLabApiError,
    GitLabClient,
    client_from_environment,
    private_token,
)

# GitLab rejects note bodies over 1,000,000 characters (doc/api/notes.md).
MAX_NOTE_CHARS = 1_000_000
TRUNCATION_NOTE = (
    "\n\n_… note truncated to fit GitLab's size limit; the full report is in the job artifacts._\n"
)
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
IID_PATTERN = re.compile(r"^[1-9][0-9]{0,9}$")
RETRYABLE_CREATE = frozenset({0, 429, 500, 502, 503, 504})

READ_NOTES = Access("read merge request notes", scope="api", role="Reporter", token_hint=NOTE_TOKEN_HINT)
WRITE_NOTES = Access("write merge request notes", scope="api", role="Reporter", token_hint=NOTE_TOKEN_HINT)


@dataclass(frozen=True)
class Note:
    """The fields of a merge request note the forge uses."""

    id: int
    body: str
    author_id: int | None
    system: bool


def parse_iid(text: object, variable: str = "CI_MERGE_REQUEST_IID") -> int:
    """A merge request IID: a positive integer, else a ForgeError naming the variable."""
    value = str(text).strip()
    if isinstance(text, bool) or not IID_PATTERN.match(value):
        shown = value if len(value) <= 20 else value[:20] + "…"
        raise ForgeError(f"{variable}: expected a merge request IID (a positive integer), got {shown!r}")
    return int(value)


def truncate_note(body: str, limit: int = MAX_NOTE_CHARS) -> str:
    """The body cut at a line boundary to at most ``limit`` characters, with a note saying so."""
    if len(body) <= limit:
        return body
    cut = body[: limit - len(TRUNCATION_NOTE)]
    if "\n" in cut:
        cut = cut[: cut.rfind("\n")]
    return cut + TRUNCATION_NOTE


class GitLabForge:
    """Posts the sticky note of each model on one merge request of one project."""

    name = "gitlab"

    def __init__(
        self,
        client: GitLabClient | None,
        *,
        merge_request_iid: int | None,
        project_url: str | None = None,
        missing: str = "",
    ):
        self.client = client
        self.merge_request_iid = merge_request_iid
        self.project_url = project_url.rstrip("/") if project_url else None
        self._missing = missing  # why no note can be written (no token), raised on first use

    def __repr__(self) -> str:
        return f"GitLabForge(client={self.client!r}, merge_request_iid={self.merge_request_iid!r})"

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None, **options: Any) -> GitLabForge:
        """The forge of the CI job's project and merge request (see the module docstring)."""
        env = os.environ if env is None else env
        iid: int | None = None
        if env.get("MLOPS_MR_IID"):
            iid = parse_iid(env["MLOPS_MR_IID"], "MLOPS_MR_IID")
        elif env.get("CI_MERGE_REQUEST_IID"):
            iid = parse_iid(env["CI_MERGE_REQUEST_IID"])
        project_url = env.get("CI_MERGE_REQUEST_PROJECT_URL") or env.get("CI_PROJECT_URL")
        token = private_token(env)
        if token is None:
            return cls(
                None,
                merge_request_iid=iid,
                project_url=project_url,
                missing=f"MLOPS_GITLAB_TOKEN: not set; {NOTE_TOKEN_HINT}",
            )
        project = env.get("CI_MERGE_REQUEST_PROJECT_ID") or None
        try:
            client = client_from_environment(env, token=token, project=project, **options)
        except GitLabApiError as error:
            raise ForgeError(str(error)) from None
        return cls(client, merge_request_iid=iid, project_url=project_url)

    # -- notes -----------------------------------------------------------------------------------

    def _client(self) -> GitLabClient:
        if self.client is None:
            raise ForgeError(self._missing or "GitLab forge: no API client")
        return self.client

    def _notes_path(self, iid: int) -> str:
        return self._client().project_path(f"/merge_requests/{iid}/notes")

    def iter_notes(self, iid: int) -> Iterator[Note]:
        """Every note of the merge request, oldest first."""
        params = {"sort": "asc", "order_by": "created_at"}
        for item in self._client().paginate(self._notes_path(iid), access=READ_NOTES, params=params):
            author: dict[str, Any] = item["author"] if isinstance(item.get("author"), dict) else {}
            author_id = author.get("id") if isinstance(author.get("id"), int) else None
            yield Note(
                id=int(item["id"]),
                body=str(item.get("body") or ""),
                author_id=author_id,
                system=bool(item.get("system")),
            )

    def find_sticky_notes(self, key: str, iid: int) -> list[Note]:
        """The user notes whose first line is the marker for ``key``, oldest first."""
        marker = sticky_marker(key)
        return [n for n in self.iter_notes(iid) if not n.system and n.body.startswith(marker)]

    def _location(self, iid: int, note_id: int) -> str:
        if self.project_url:
            return f"{self.project_url}/-/merge_requests/{iid}#note_{note_id}"
        return f"merge request !{iid} note {note_id}"

    def post_sticky_comment(self, body: str, *, key: str) -> CommentResult:
        """Create the note carrying the marker for ``key``, or edit it in place.

        A create that fails with a retryable error is not blindly repeated: the notes are listed again
        first, so a create that reached GitLab before the error is updated rather than duplicated.
        Duplicates left by earlier races (same author) are deleted, so exactly one remains.
        """
        if not KEY_PATTERN.match(key):
            raise ForgeError(f"sticky note key: expected a model name like 'churn-model', got {key[:70]!r}")
        iid = self.merge_request_iid
        if iid is None:
            return CommentResult(
                action="skipped",
                location="no merge request",
                detail="not a merge request pipeline (CI_MERGE_REQUEST_IID is not set)",
            )
        try:
            return self._post(truncate_note(with_marker(body, key)), key, iid)
        except GitLabApiError as error:
            raise ForgeError(str(error)) from None

    def _post(self, text: str, key: str, iid: int) -> CommentResult:
        client = self._client()
        last = ""
        create_failed = False  # a create that failed may still have reached GitLab
        for attempt in range(1, client.max_attempts + 1):
            existing = self.find_sticky_notes(key, iid)
            if existing:
                keep = existing[0]
                action = "updated"
                if keep.body != text:
                    client.request(
                        "PUT", f"{self._notes_path(iid)}/{keep.id}", access=WRITE_NOTES, json={"body": text}
                    )
                elif create_failed and len(existing) == 1:
                    action = "created"
                removed = 0
                for duplicate in existing[1:]:
                    if duplicate.author_id is not None and duplicate.author_id == keep.author_id:
                        client.request(
                            "DELETE", f"{self._notes_path(iid)}/{duplicate.id}", access=WRITE_NOTES
                        )
                        removed += 1
                detail = f"removed {removed} duplicate(s)" if removed else ""
                return CommentResult(action=action, location=self._location(iid, keep.id), detail=detail)
            try:
                response = client.request(
                    "POST", self._notes_path(iid), access=WRITE_NOTES, json={"body": text}, retry=False
                )
            except GitLabApiError as error:
                if error.status not in RETRYABLE_CREATE:
                    raise
                last = str(error)
                create_failed = True
                if attempt < client.max_attempts:
                    client.pause_before_retry(attempt, error.wait)
                continue
            note_id = response.json().get("id")
            return CommentResult(action="created", location=self._location(iid, int(note_id)))
        raise ForgeError(f"GitLab API: giving up after {client.max_attempts} attempts: {last}")
