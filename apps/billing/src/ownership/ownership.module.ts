import { Module } from '@nestjs/common';
import { Ownership } from './ownership.service';
import { Peers } from './peers';

/** Which process serves which organizations (partition leases, fencing) and the requests between processes. */
@Module({
  providers: [Ownership, Peers],
  exports: [Ownership, Peers],
})
export class OwnershipModule {}
