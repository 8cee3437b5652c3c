export * from './lake';
export * from './event-hub';
export * from './bus';
export * from './serving-store';
export * from './errors';
