/**
 * The OpenTelemetry side of tracing, loaded only when tracing is on: a
 * tracer provider sampling `sampling_rate_per_million` of new traces (and
 * following the client's decision for traces it continues), spans batched
 * and exported as OTLP/HTTP protobuf to `<endpoint>/v1/traces`, and the
 * async-hooks context manager so that child spans find their parent
 * across awaits (its cost is paid only while tracing is on).
 */

import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import type { Attributes, TracingBackend, TracingOptions } from './tracing.js';

export function createOtelBackend(options: TracingOptions): TracingBackend {
  const contextManager = new AsyncLocalStorageContextManager();
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
  const propagator = new W3CTraceContextPropagator();
  const exporter = new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces` });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'berth', 'service.version': options.serviceVersion }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(Math.min(1, Math.max(0, options.samplingRatePerMillion / 1_000_000))) }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: options.exportDelayMs ?? 2000 })],
  });
  const tracer = provider.getTracer('berth', options.serviceVersion);

  const run = <T>(name: string, attributes: Attributes, kind: SpanKind, fn: () => Promise<T>): Promise<T> =>
    tracer.startActiveSpan(name, { kind, attributes }, async (s) => {
      try {
        return await fn();
      } catch (err) {
        s.recordException(err as Error);
        s.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        s.end();
      }
    });

  return {
    span: (name, attributes, fn) => run(name, attributes, SpanKind.INTERNAL, fn),
    callSpan: (name, attributes, carrier, fn) => {
      const parent = propagator.extract(ROOT_CONTEXT, carrier, {
        get: (c, key) => c[key],
        keys: (c) => Object.keys(c),
      });
      return context.with(parent, () => run(name, attributes, SpanKind.SERVER, fn));
    },
    shutdown: async () => {
      await provider.shutdown();
      contextManager.disable();
      context.disable();
      propagation.disable();
      trace.disable();
    },
  };
}
