export const PAYMENTS_CONFIG = Symbol('PaymentsConfig');
/** The gateway's own MikroORM, for the top-up intents (a symbol, not the class, so it never clashes with another module's). */
export const PAYMENTS_ORM = Symbol('PaymentsOrm');
