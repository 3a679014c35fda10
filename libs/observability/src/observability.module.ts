import { Controller, DynamicModule, Get, Header, Inject, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import { collectDefaultMetrics, Registry } from 'prom-client';

/** A dependency the process needs: resolves when it answers, throws with the reason when not. */
export type Probe = () => Promise<void>;

export interface ObservabilityOptions {
  readonly service: string;
  readonly probes: Record<string, Probe>;
  /** Registers the process's own metrics on its registry. */
  readonly metrics: (registry: Registry) => void;
}

const OPTIONS = Symbol('ObservabilityOptions');
/** How long one probe may take before the dependency counts as down. */
export const PROBE_TIMEOUT_MS = 2000;

function withTimeout(p: Promise<void>): Promise<void> {
  return Promise.race([p, new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS).unref())]);
}

@Controller()
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(OPTIONS) private readonly options: ObservabilityOptions,
  ) {}

  /** 200 when every dependency answers, 503 with the failing ones named otherwise. */
  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check(
      Object.entries(this.options.probes).map(([name, probe]) => async () => {
        const indicator = this.indicators.check(name);
        try {
          await withTimeout(probe());
          return indicator.up();
        } catch (error) {
          return indicator.down({ message: String((error as Error)?.message ?? error) });
        }
      }),
    );
  }
}

@Controller()
class MetricsController {
  constructor(@Inject(Registry) private readonly registry: Registry) {}

  /** Prometheus text format. */
  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}

/** `/health` (Postgres, NATS, ...) and `/metrics` (Prometheus) for any of the engine's HTTP processes. */
@Module({})
export class ObservabilityModule {
  static forRoot(options: ObservabilityOptions): DynamicModule {
    return {
      module: ObservabilityModule,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: OPTIONS, useValue: options },
        {
          provide: Registry,
          useFactory: () => {
            const registry = new Registry();
            registry.setDefaultLabels({ service: options.service });
            collectDefaultMetrics({ register: registry });
            options.metrics(registry);
            return registry;
          },
        },
      ],
      exports: [Registry],
    };
  }
}
