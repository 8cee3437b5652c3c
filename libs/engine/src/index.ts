export * from './clock';
export * from './partition-key';
export * from './windowing';
