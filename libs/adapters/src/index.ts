export * from './local.lake';
export * from './local.event-hub';
export * from './local.checkpoint-store';
export { propertyKind, type PropertyKind } from './local.event-properties';
export * from './local.bus';
export * from './local.serving-store';
export * from './adls.lake';
export * from './cosmos.serving-store';
