export * from './spec.types';
export * from './event-properties';
export * from './spec';
export * from './duration';
export * from './event-time';
export * from './event-id';
export * from './time-zone';
export * from './table.types';
