/**
 * Tracing as the rest of berth sees it: `span(name, attributes, fn)` around
 * a piece of work, `callSpan` around a CRI call. With tracing off (no
 * `tracing.endpoint`, the default) both just run `fn`: no OpenTelemetry
 * module is loaded and nothing is recorded, so the cost is one function
 * call. With it on, otel.ts (loaded on demand) records spans with the
 * OpenTelemetry SDK and exports them over OTLP/HTTP.
 */

export type Attributes = Record<string, string | number | boolean>;

export interface TracingBackend {
  span<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T>;
  /** A CRI call: a server span, child of the trace context the client sent (W3C `traceparent` metadata). */
  callSpan<T>(name: string, attributes: Attributes, carrier: Record<string, string>, fn: () => Promise<T>): Promise<T>;
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** The collector's base URL (`http://127.0.0.1:4318`); spans go to `<endpoint>/v1/traces`. */
  endpoint: string;
  samplingRatePerMillion: number;
  serviceVersion: string;
  /** How long finished spans may wait before they are sent (the exporter batches them). */
  exportDelayMs?: number;
}

let backend: TracingBackend | undefined;

export function span<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  return backend ? backend.span(name, attributes, fn) : fn();
}

export function callSpan<T>(name: string, attributes: Attributes, carrier: () => Record<string, string>, fn: () => Promise<T>): Promise<T> {
  return backend ? backend.callSpan(name, attributes, carrier(), fn) : fn();
}

export function tracingEnabled(): boolean {
  return backend !== undefined;
}

/** Turns tracing on (or reconfigures it); an empty endpoint turns it off. */
export async function configureTracing(options: TracingOptions): Promise<void> {
  await backend?.shutdown();
  backend = undefined;
  if (!options.endpoint) return;
  const { createOtelBackend } = await import('./otel.js');
  backend = createOtelBackend(options);
}

/** Sends what is left and stops (at shutdown). */
export async function stopTracing(): Promise<void> {
  const current = backend;
  backend = undefined;
  await current?.shutdown();
}
