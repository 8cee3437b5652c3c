/**
 * The embedded adapters, and `open*` functions that open any adapter from a backend description.
 * The Azure adapters are reached through those functions, which load them (and their SDKs) only
 * when a backend is Azure; code that needs an Azure adapter class itself imports its module.
 */
export * from './local.lake';
export * from './local.event-hub';
export * from './local.checkpoint-store';
export { propertyKind, type PropertyKind } from './local.event-properties';
export * from './local.bus';
export * from './local.serving-store';
export * from './local.process-lock';
export * from './backends';
export type { NamespaceAccess } from './azure-access';
