import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import { SilverService } from './silver.service';

/**
 * A bronze manifest was announced. The message is only a doorbell: silver reads whatever the lake
 * holds after its position, so the message is settled once that catch-up has run.
 */
@Controller()
export class SilverController {
  constructor(private readonly silver: SilverService) {}

  @EventPattern('bronze.batch')
  async onBronzeBatch(): Promise<void> {
    await this.silver.catchUp();
  }
}
