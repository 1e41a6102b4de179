"""The local stack: a KRaft Kafka broker from Maven Central jars and Debian's redis-server.

ClickHouse has no process: clickhouse-connect opens chDB in-process (``chdb://DIR``).
"""
