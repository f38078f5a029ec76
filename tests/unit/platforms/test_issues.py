"""The labels an updated issue carries: the wanted ones added, a scope:value replacing its scope's."""

from __future__ import annotations

from mlops_actions.platforms.issues import merged_labels


def test_a_wanted_scoped_label_replaces_the_old_one_and_keeps_labels_people_added():
    current = ("mlops", "severity:low", "triaged")
    assert merged_labels(current, ("mlops", "severity:high")) == ("mlops", "triaged", "severity:high")


def test_nothing_is_sent_when_the_labels_are_already_there_or_none_are_wanted():
    assert merged_labels(("severity:high", "mlops"), ("mlops", "severity:high")) is None
    assert merged_labels(("mlops",), ()) is None
    assert merged_labels((), ("mlops",)) == ("mlops",)
