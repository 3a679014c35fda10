// What the top-up flow says about each provider and each answer a provider's return can bring.
export const PROVIDER_NAMES = { stripe: 'Card (Stripe)', paypal: 'PayPal', vnpay: 'VNPAY' };
export const PROVIDER_SHORT = { stripe: 'Stripe', paypal: 'PayPal', vnpay: 'VNPAY' };
export const RETURN_WORDS = {
  paypal: {
    captured: ['ok', 'PayPal took the payment. It is credited as soon as PayPal confirms it to us.'],
    already_captured: ['ok', 'PayPal had already taken this payment. It is credited as soon as PayPal confirms it to us.'],
    capture_pending: ['ok', 'PayPal is reviewing the payment. It is credited once PayPal confirms it.'],
    not_pending: ['ok', 'This top-up was already settled.'],
    declined: ['error', 'PayPal declined the payment method. Nothing was charged: try again, or pay another way.'],
    cancelled: ['error', 'You cancelled at PayPal. Nothing was charged.'],
    not_approved: ['error', 'PayPal says the payment was not approved. Nothing was charged.'],
    unknown_order: ['error', 'This PayPal order is not one of our top-ups.'],
    retry_later: ['error', 'PayPal could not be reached to take the payment. It is taken when PayPal confirms your approval to us; nothing is needed from you.'],
    failed: ['error', 'PayPal refused to take the payment. Nothing was charged.'],
  },
  vnpay: {
    paid: ['ok', 'VNPAY says the payment went through. It is credited when VNPAY confirms it to us directly, not from this page.'],
    cancelled: ['error', 'You cancelled at VNPAY. Nothing was charged.'],
    failed: ['error', 'VNPAY says the payment did not go through. Nothing was charged.'],
    invalid_signature: ['error', 'The return from VNPAY did not verify: it was altered or does not come from VNPAY. Nothing was changed.'],
    unknown_order: ['error', 'This VNPAY payment is not one of our top-ups.'],
    amount_mismatch: ['error', "This VNPAY payment is not of its top-up's amount. Nothing was changed."],
  },
  stripe: {
    succeeded: ['ok', 'Stripe took the payment. It is credited as soon as Stripe confirms it to us.'],
    processing: ['ok', 'Stripe is processing the payment. It is credited once Stripe confirms it.'],
    requires_payment_method: ['error', 'Stripe could not take the payment. Nothing was charged: try again, or pay another way.'],
    failed: ['error', 'Stripe could not take the payment. Nothing was charged.'],
  },
};
