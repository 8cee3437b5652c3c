export * from './bus.context';
export * from './bus.transport';
export * from './bus.client';
