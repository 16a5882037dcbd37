"""Log-stream events as OpenTelemetry logs: an OTLP/HTTP ``ExportLogsServiceRequest``
(protobuf, encoded with the official ``opentelemetry-proto`` package), which an
OpenTelemetry Collector's ``otlphttp`` receiver (``POST /v1/logs``) and most
observability back-ends accept.

One log record per event: its time, a severity (a console line's level; a failed
execution is ERROR), a body (the console line, or "mutation messages:send failure in
3.1 ms"), and the event's fields as attributes with dotted names
(``convex.function.path``, ``convex.usage.database_read_bytes``, ...); a failure's
traceback is ``exception.stacktrace`` and its message ``exception.message``, the
OpenTelemetry semantic-convention names.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

CONTENT_TYPE = "application/x-protobuf"
SERVICE_NAME = "pyconvex"
SEVERITY = {"DEBUG": 5, "LOG": 9, "INFO": 9, "WARN": 13, "WARNING": 13, "ERROR": 17, "CRITICAL": 21}


def _value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def _flatten(prefix: str, data: dict[str, Any], out: list[KeyValue]) -> None:
    for key, value in data.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict):
            _flatten(name, value, out)
        elif value is not None:
            out.append(KeyValue(key=name, value=_value(value)))


def _severity(event: dict[str, Any]) -> str:
    topic = event.get("topic")
    if topic == "console":
        return str(event.get("log_level", "LOG")).upper()
    if topic == "function_execution":
        return "ERROR" if event.get("status") == "failure" else "INFO"
    if topic == "server_log":
        return str(event.get("level", "info")).upper()
    return "INFO"


def _body(event: dict[str, Any]) -> str:
    if event.get("topic") == "function_execution":
        fn = event.get("function", {})
        return (f"{fn.get('type')} {fn.get('path')} {event.get('status')} in "
                f"{event.get('execution_time_ms')} ms")
    return str(event.get("message", ""))


def log_record(event: dict[str, Any]) -> LogRecord:
    fields = {k: v for k, v in event.items()
              if k not in ("timestamp", "message", "traceback", "error_message")}
    attributes: list[KeyValue] = []
    _flatten("convex", fields, attributes)
    if event.get("error_message") is not None:
        attributes.append(KeyValue(key="exception.message", value=_value(event["error_message"])))
    if event.get("traceback") is not None:
        attributes.append(KeyValue(key="exception.stacktrace", value=_value(event["traceback"])))
    severity = _severity(event)
    nanos = int(event.get("timestamp", 0)) * 1_000_000
    return LogRecord(
        time_unix_nano=nanos, observed_time_unix_nano=nanos,
        severity_number=SEVERITY.get(severity, 9),  # type: ignore[arg-type]
        severity_text=severity, body=AnyValue(string_value=_body(event)), attributes=attributes,
    )


def encode(events: list[dict[str, Any]]) -> bytes:
    """One ``ExportLogsServiceRequest`` holding ``events``."""
    request = ExportLogsServiceRequest(resource_logs=[ResourceLogs(
        resource=Resource(attributes=[KeyValue(key="service.name", value=_value(SERVICE_NAME))]),
        scope_logs=[ScopeLogs(scope=InstrumentationScope(name="pyconvex.log_streams"),
                              log_records=[log_record(e) for e in events])],
    )])
    data: bytes = request.SerializeToString()
    return data
