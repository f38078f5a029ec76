"""Local stand-ins for the APIs the package talks to, each enforcing its contract in ``tests/contracts``.

``github`` (comments and pull requests), ``github_releases`` (releases, artifacts, dispatches), ``gitlab``
(merge request notes, releases, generic packages), ``fault_proxy`` (injects transport faults in front of a
stand-in) and ``forge_sides`` (GitHub and GitLab seen the same way). ``fixtures`` starts them for a test.
"""
