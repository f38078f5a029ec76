"""The model server behind ``mlops-actions serve``.

One module per idea: :mod:`.source` (which version, fetched and digest-checked, loaded with the reviewed
trust), :mod:`.inputs` (request bodies checked against the version's data schema), :mod:`.batcher`
(concurrent requests merged into one predict call, sized by the measured cost of a batch),
:mod:`.prediction_log` (every prediction appended off the request path), :mod:`.metrics` (Prometheus
text), :mod:`.app` (the routes) and :mod:`.server` (start and stop, in this process or in workers).
Heavy libraries are imported inside functions, so importing this package costs nothing.
"""
