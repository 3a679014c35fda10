import { Controller, DynamicModule, Get, Header, Headers, HttpException, Inject, Module, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TerminusModule } from '@nestjs/terminus';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { bearerMatches } from './health-details';

/** A dependency the process needs: resolves when it answers, throws with the reason when not. */
export type Probe = () => Promise<void>;

export interface ObservabilityOptions {
  readonly service: string;
  readonly probes: Record<string, Probe>;
  /** Registers the process's own metrics on its registry. */
  readonly metrics: (registry: Registry) => void;
  /** Bearer token of `GET /health/details` (HEALTH_DETAILS_TOKEN, see health-details.ts); null: details for no one. */
  readonly healthDetailsToken?: string | null;
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

  /** Public: 200 `{status: "up"}` when every dependency answers, 503 `{status: "down"}` otherwise, naming none. */
  @Get('health')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  async check(): Promise<{ status: 'up' }> {
    try {
      await this.probe();
    } catch {
      throw new ServiceUnavailableException({ status: 'down' });
    }
    return { status: 'up' };
  }

  /** Internal callers (the HEALTH_DETAILS_TOKEN bearer): 200 or 503 with every dependency and why it is down. */
  @Get('health/details')
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  details(@Headers('authorization') authorization?: string) {
    if (!bearerMatches(authorization, this.options.healthDetailsToken)) {
      const message = this.options.healthDetailsToken ? 'health details need the HEALTH_DETAILS_TOKEN bearer token' : 'health details are off (no HEALTH_DETAILS_TOKEN)';
      throw new HttpException({ ok: false, error: { code: 'UNAUTHENTICATED', message } }, 401);
    }
    return this.probe();
  }

  private probe() {
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

/** `/health` (up or down), `/health/details` (Postgres, NATS, ...; internal) and `/metrics` (Prometheus) for any of the engine's HTTP processes. */
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
