export * from './clock';
export * from './partition-key';
