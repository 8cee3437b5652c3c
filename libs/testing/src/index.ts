export * from './collect';
export * from './temp-dir';
export * from './wait-for';
export * from './lake.contract';
export * from './event-hub.contract';
export * from './checkpoint-store.contract';
export * from './faulty-lake';
export * from './bus.contract';
