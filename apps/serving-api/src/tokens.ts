/** Injection tokens: the ports the API reads from, so any adapter can stand behind them. */
export const SERVING_STORE = Symbol('ServingStore');
export const LAKE = Symbol('Lake');
export const CLOCK = Symbol('Clock');
