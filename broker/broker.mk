# broker/: the broker daemon, its stores, and the client library.
