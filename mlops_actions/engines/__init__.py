"""Engines that run the data checks and the monitor where the data lives: local chunks, Dask, Spark.

``base`` holds the seam (datasets, jobs, the engine protocol, ``open_engine``); ``sources`` resolves a path
or URI into a Dataset and turns what an engine read into chunks; ``local``, ``dask_engine`` and
``spark_engine`` are the engines; ``data_jobs`` runs the data commands' jobs on an engine.
"""
