/**
 * OpenTelemetry web tracing: every `fetch` gets a span, and API calls carry its W3C
 * `traceparent`, so the backend continues the browser's trace. Spans go to the OTLP/HTTP
 * traces endpoint of the configuration (the gateway's `/otlp`, same origin, by default).
 */
import { type Attributes, context, propagation, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { registerInstrumentations } from "@opentelemetry/instrumentation";
import { FetchInstrumentation } from "@opentelemetry/instrumentation-fetch";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type Sampler,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  WebTracerProvider,
} from "@opentelemetry/sdk-trace-web";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";

import { type TracingConfig } from "./config";

export interface Tracing {
  /** Send the spans that are waiting (tests, and before the page goes away). */
  flush(): Promise<void>;
  /** Stop tracing: fetch is no longer instrumented. */
  shutdown(): Promise<void>;
}

const DISABLED: Tracing = {
  flush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

export function makeSampler(config: Pick<TracingConfig, "sampler" | "samplerRatio">): Sampler {
  switch (config.sampler) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(config.samplerRatio);
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.samplerRatio) });
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Start tracing `fetch`. `apiBaseUrl` is where the API calls go: when it is another origin than
 * the page's, the browser only sends `traceparent` there if this says so (and that origin's CORS
 * policy allows the header).
 */
export function startTracing(config: TracingConfig, apiBaseUrl: string): Tracing {
  if (!config.enabled) {
    return DISABLED;
  }
  const spanProcessors: SpanProcessor[] = config.exporters.map(
    (exporter) =>
      new BatchSpanProcessor(
        exporter === "otlp" ? new OTLPTraceExporter({ url: config.tracesUrl }) : new ConsoleSpanExporter(),
        { scheduledDelayMillis: config.exportDelayMs },
      ),
  );
  const attributes: Attributes = { ...config.resourceAttributes, [ATTR_SERVICE_NAME]: config.serviceName };
  const provider = new WebTracerProvider({
    resource: resourceFromAttributes(attributes),
    sampler: makeSampler(config),
    spanProcessors,
  });
  // The W3C trace context and baggage propagators (the default).
  provider.register();
  const unregister = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new FetchInstrumentation({
        propagateTraceHeaderCorsUrls: [new RegExp(`^${escapeRegExp(apiBaseUrl)}/`)],
        // The exporter's own requests are not traced.
        ignoreUrls: [config.tracesUrl],
        clearTimingResources: true,
      }),
    ],
  });
  return {
    flush: () => provider.forceFlush(),
    shutdown: async () => {
      unregister();
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}
