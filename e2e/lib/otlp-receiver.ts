import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import protobuf from 'protobufjs';

/**
 * A collector for the tests: accepts OTLP/HTTP protobuf trace exports on
 * /v1/traces and keeps the spans. The message definitions are the parts of
 * opentelemetry-proto (trace/v1, common/v1, collector/trace/v1) a test
 * reads, with their field numbers.
 */
const PROTO = `
syntax = "proto3";
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; } }
message KeyValue { string key = 1; AnyValue value = 2; }
message Resource { repeated KeyValue attributes = 1; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; string name = 5; int32 kind = 6;
  fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9;
}
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
`;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  attributes: Record<string, string | number | boolean>;
  service: string;
  /** End minus start, in milliseconds. */
  durationMs: number;
}

export interface OtlpReceiver {
  endpoint: string;
  spans: ReceivedSpan[];
  close(): Promise<void>;
}

type Kv = { key: string; value?: { stringValue?: string; boolValue?: boolean; intValue?: number | string; doubleValue?: number } };
const attrs = (list: Kv[] | undefined) =>
  Object.fromEntries((list ?? []).map((kv) => [kv.key, kv.value?.stringValue ?? kv.value?.boolValue ?? Number(kv.value?.intValue ?? kv.value?.doubleValue)]));

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const Request = protobuf.parse(PROTO).root.lookupType('ExportTraceServiceRequest');
  const spans: ReceivedSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url !== '/v1/traces') return void res.writeHead(404).end();
      const body = Request.toObject(Request.decode(Buffer.concat(chunks)), { longs: String, bytes: String }) as {
        resourceSpans?: { resource?: { attributes?: Kv[] }; scopeSpans?: { spans?: (Record<string, unknown> & { attributes?: Kv[] })[] }[] }[];
      };
      for (const rs of body.resourceSpans ?? []) {
        const service = String(attrs(rs.resource?.attributes)['service.name'] ?? '');
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            const hex = (v: unknown) => Buffer.from(String(v ?? ''), 'base64').toString('hex');
            spans.push({
              traceId: hex(s.traceId),
              spanId: hex(s.spanId),
              parentSpanId: hex(s.parentSpanId),
              name: String(s.name),
              attributes: attrs(s.attributes),
              service,
              durationMs: Number(BigInt(String(s.endTimeUnixNano ?? 0)) - BigInt(String(s.startTimeUnixNano ?? 0))) / 1e6,
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
