export * from './error-codes';
export * from './subjects';
export * from './wallet-commands';
export * from './wallet-replies';
export * from './lifecycle-events';
export * from './operator-actions';
