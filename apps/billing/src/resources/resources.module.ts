import { Module } from '@nestjs/common';
import { OwnershipModule } from '../ownership/ownership.module';
import { WalletModule } from '../wallet/wallet.module';
import { LifecycleConsumer } from './lifecycle.consumer';
import { MeterTicker } from './meter.ticker';
import { ResourceService } from './resource.service';
import { StopRepeater } from './stop.repeater';

/** The GPU resources: one actor per resource owning its billing periods, fed by the lifecycle stream and ticked while they bill. */
@Module({
  imports: [OwnershipModule, WalletModule],
  providers: [ResourceService, LifecycleConsumer, MeterTicker, StopRepeater],
  exports: [ResourceService, LifecycleConsumer, MeterTicker, StopRepeater],
})
export class ResourcesModule {}
