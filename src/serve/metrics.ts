/**
 * Prometheus metrics of one server, on its own prom-client Registry (not the global one, so a
 * process can run several servers, as the tests do): requests by route and status, request
 * latency, batch sizes and run times, queue depth and images in flight, plus prom-client's
 * process metrics (RSS, CPU, event-loop lag, GC).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface QueueProbe {
  /** Images waiting for a batch. */
  depth(): number;
  /** Images admitted and not answered yet (being decoded, waiting or running). */
  inFlight(): number;
}

export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'route' | 'status_code'>;
  readonly latency: Histogram<'method' | 'route' | 'status_code'>;
  readonly batchSize: Histogram;
  readonly batchSeconds: Histogram;
  readonly images: Counter;

  constructor(probe: QueueProbe) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'kestrel_http_requests_total', help: 'HTTP requests answered, by method, route and status code', labelNames: ['method', 'route', 'status_code'], registers });
    this.latency = new Histogram({
      name: 'kestrel_http_request_duration_seconds', help: 'Time from receiving a request to sending its response', labelNames: ['method', 'route', 'status_code'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    });
    this.batchSize = new Histogram({ name: 'kestrel_batch_size', help: 'Images per ONNX Runtime batch', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers });
    this.batchSeconds = new Histogram({ name: 'kestrel_batch_duration_seconds', help: 'Time one batch takes in ONNX Runtime', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers });
    this.images = new Counter({ name: 'kestrel_images_total', help: 'Images classified', registers });
    new Gauge({ name: 'kestrel_queue_depth', help: 'Images waiting for a batch', registers, collect() { this.set(probe.depth()); } });
    new Gauge({ name: 'kestrel_images_in_flight', help: 'Images admitted and not yet answered (decoding, waiting or running)', registers, collect() { this.set(probe.inFlight()); } });
  }
}
