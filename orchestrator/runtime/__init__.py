"""Running processes: the worker (stream processor + in-app API) and the embedded broker."""
