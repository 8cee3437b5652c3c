/**
 * The lake and bus the operator commands (audit, checkpoint reset, dead-letters) work on: the
 * embedded ones under the pipeline home, or Azure's when `PIPELINE_BACKEND` (or the port's own
 * setting) says so — the same settings the services read, so one environment serves both.
 */
import { openBus, openLake } from '@pipeline/adapters';
import { readBusBackend, readLakeBackend, resolvePipelineHome, SettingsReader } from '@pipeline/config';
import { systemClock } from '@pipeline/engine';
import type { Bus, Lake } from '@pipeline/ports';

/** Throws `ConfigError` listing every bad setting. */
export async function openCommandLake(command: string, homeFlag: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Lake> {
  const settings = new SettingsReader(`pipeline ${command}`, env);
  const backend = readLakeBackend(settings, resolvePipelineHome(homeFlag, env));
  settings.done();
  return openLake(backend);
}

/** Throws `ConfigError` listing every bad setting. */
export async function openCommandBus(command: string, homeFlag: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Bus> {
  const settings = new SettingsReader(`pipeline ${command}`, env);
  const backend = readBusBackend(settings, resolvePipelineHome(homeFlag, env));
  settings.done();
  return openBus(backend, systemClock);
}
