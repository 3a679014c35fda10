export * from './error-codes';
export * from './subjects';
export * from './request-fields';
export * from './wallet-commands';
export * from './admin-requests';
export * from './wallet-replies';
export * from './lifecycle-events';
export * from './operator-actions';
