"""The GitLab forge: one sticky merge request note per model, through the Notes API.

Works on gitlab.com and self-managed instances: the API base URL comes from ``CI_API_V4_URL``, the project
from ``CI_PROJECT_ID`` and the merge request from ``MLOPS_MR_IID`` or ``CI_MERGE_REQUEST_IID`` (set in merge
request pipelines). The CI/CD job token cannot create or edit notes, so the note is written with the
``PRIVATE-TOKEN`` in ``MLOPS_GITLAB_TOKEN``: a project access token with scope ``api`` and at least the
Reporter role, stored as a masked CI/CD variable.

The note's first line is a hidden marker naming the model (:func:`mlops_actions.platforms.comments.sticky_marker`);
a later post finds it among the merge request's notes (every page, oldest first, system notes skipped)
and edits it in place (:func:`mlops_actions.platforms.comments.post_sticky`). A marker counts only on a note
written by the token's own user (``GET /user``: a project access token's bot user); notes of anyone
else, with another marker, or none, are never touched.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlops_actions.errors import ForgeError
from mlops_actions.platforms.comments import (
    CommentResult,
    ThreadComment,
    check_sticky_key,
    post_sticky,
    with_marker,
)
from mlops_actions.platforms.gitlab.api import (
    NOTE_TOKEN_HINT,
    Access,
    GitLabApiError,
    GitLabClient,
    client_from_environment,
    private_token,
)
from mlops_actions.platforms.rest_client import ApiError

# GitLab rejects note bodies over 1,000,000 characters (doc/api/notes.md).
MAX_NOTE_CHARS = 1_000_000
TRUNCATION_NOTE = (
    "\n\n_… note truncated to fit GitLab's size limit; the full report is in the job artifacts._\n"
)
IID_PATTERN = re.compile(r"^[1-9][0-9]{0,9}$")

READ_NOTES = Access("read merge request notes", scope="api", role="Reporter", token_hint=NOTE_TOKEN_HINT)
WRITE_NOTES = Access("write merge request notes", scope="api", role="Reporter", token_hint=NOTE_TOKEN_HINT)
IDENTIFY = Access(
    "read its own user (GET /user) to recognise its own notes",
    scope="api",
    role="Reporter",
    token_hint=NOTE_TOKEN_HINT,
)


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
        self._user_id: str | None = None  # the token's own user, asked once

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
        path = self._notes_path(iid)
        for item in self._client().paginate(path, access=READ_NOTES, params=params):
            yield self._note_of(item, f"GET {path}")

    def _note_of(self, item: Mapping[str, Any], where: str) -> Note:
        """A note of the API's answer, or a one-line error."""
        author = item.get("author")
        author_id = (
            author.get("id") if isinstance(author, dict) and isinstance(author.get("id"), int) else None
        )
        note_id, body = item.get("id"), item.get("body")
        if (
            not isinstance(note_id, int)
            or isinstance(note_id, bool)
            or not isinstance(body, (str, type(None)))
        ):
            raise GitLabApiError(f"GitLab API: expected a note with an integer id from {where}")
        return Note(id=note_id, body=body or "", author_id=author_id, system=bool(item.get("system")))

    def own_user_id(self) -> str:
        """The id of the user this token writes as (``GET /user``; a project access token's bot user).

        The job token cannot call it: the one-line refusal names the token a note needs.
        """
        if self._user_id is None:
            client = self._client()
            response = client.request("GET", "/user", access=IDENTIFY)
            user_id = client.json_of(response, "GET /user", expect=dict).get("id")
            if not isinstance(user_id, int) or isinstance(user_id, bool):
                raise GitLabApiError("GitLab API: expected a user with an integer id from GET /user")
            self._user_id = str(user_id)
        return self._user_id

    def _location(self, iid: int, note_id: int) -> str:
        if self.project_url:
            return f"{self.project_url}/-/merge_requests/{iid}#note_{note_id}"
        return f"merge request !{iid} note {note_id}"

    def post_sticky_comment(self, body: str, *, key: str) -> CommentResult:
        """Create our note carrying the marker for ``key``, or edit it in place (see :func:`post_sticky`).

        A create that fails with a retryable error or an unreadable answer is not blindly repeated: the
        notes are listed again first. Our duplicates left by a race are deleted, so one remains; a marked
        note by anyone else is left as it is.
        """
        check_sticky_key(key, what="sticky note")
        iid = self.merge_request_iid
        if iid is None:
            return CommentResult(
                action="skipped",
                location="no merge request",
                detail="not a merge request pipeline (CI_MERGE_REQUEST_IID is not set)",
            )
        try:
            return post_sticky(_MergeRequestThread(self, iid), truncate_note(with_marker(body, key)), key=key)
        except GitLabApiError as error:
            raise ForgeError(str(error)) from None


@dataclass
class _MergeRequestThread:
    """The notes of one merge request, as :func:`post_sticky` uses them."""

    forge: GitLabForge
    iid: int
    service: str = "GitLab API"

    @property
    def max_attempts(self) -> int:
        return self.forge._client().max_attempts

    def _comment(self, note: Note) -> ThreadComment:
        author = "" if note.author_id is None else str(note.author_id)
        return ThreadComment(note.id, note.body, author, self.forge._location(self.iid, note.id))

    def _answer(self, response: Any, where: str) -> ThreadComment:
        item = self.forge._client().json_of(response, where, expect=dict)
        return self._comment(self.forge._note_of(item, where))

    def comments(self) -> list[ThreadComment]:
        return [self._comment(note) for note in self.forge.iter_notes(self.iid) if not note.system]

    def own_identity(self) -> str:
        return self.forge.own_user_id()

    def create(self, text: str) -> ThreadComment:
        """Create the note; its author, as GitLab answers, is the user this token writes as."""
        path = self.forge._notes_path(self.iid)
        response = self.forge._client().request(
            "POST", path, access=WRITE_NOTES, json={"body": text}, retry=False
        )
        created = self._answer(response, f"POST {path}")
        if created.author:
            self.forge._user_id = created.author
        return created

    def update(self, comment: ThreadComment, text: str) -> ThreadComment:
        path = f"{self.forge._notes_path(self.iid)}/{comment.id}"
        response = self.forge._client().request("PUT", path, access=WRITE_NOTES, json={"body": text})
        return self._answer(response, f"PUT {path}")

    def delete(self, comment: ThreadComment) -> None:
        path = f"{self.forge._notes_path(self.iid)}/{comment.id}"
        self.forge._client().request("DELETE", path, access=WRITE_NOTES, accept=frozenset({404}))

    def is_retryable(self, error: ApiError) -> bool:
        return self.forge._client().is_retryable(error)

    def pause(self, attempt: int, wait: float) -> None:
        self.forge._client().pause_before_retry(attempt, wait)
