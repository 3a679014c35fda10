/**
 * The stand-in for Stripe.js that the fake Stripe serves (see FakeStripe.browserSide): plain
 * browser JavaScript implementing only what the portal calls of Stripe.js's documented API:
 * `Stripe(publishableKey)`, `stripe.elements({clientSecret})`, `elements.create('payment').mount()`,
 * `stripe.confirmPayment({elements, confirmParams, redirect})` (resolving `{paymentIntent}` or
 * `{error}`) and `stripe.confirmSetup({elements, confirmParams, redirect})` (`{setupIntent}` or
 * `{error}`). It is not Stripe.js, and proves nothing about Stripe.js itself.
 */
export function standInStripeJs(base: string): string {
  return `(function () {
  var base = ${JSON.stringify(base)};
  window.Stripe = function (key) {
    if (!/^pk_(test|live)_/.test(String(key))) throw new Error('Stripe.js (stand-in): a publishable key is required');
    return {
      elements: function (options) {
        var clientSecret = options && options.clientSecret;
        return {
          clientSecret: clientSecret,
          create: function (type) {
            if (type !== 'payment') throw new Error('Stripe.js (stand-in): only the Payment Element');
            return {
              mount: function (target) {
                var frame = document.createElement('iframe');
                frame.src = base + '/elements/payment.html';
                frame.title = 'Secure payment input frame';
                frame.setAttribute('data-testid', 'stripe-frame');
                (typeof target === 'string' ? document.querySelector(target) : target).appendChild(frame);
              },
            };
          },
        };
      },
      confirmSetup: function (params) {
        var secret = params.elements.clientSecret;
        var returnUrl = params.confirmParams && params.confirmParams.return_url;
        var body = new URLSearchParams({ key: key, client_secret: secret });
        if (returnUrl) body.set('return_url', returnUrl);
        return fetch(base + '/v1/setup_intents/' + encodeURIComponent(secret.split('_secret_')[0]) + '/confirm', { method: 'POST', body: body }).then(
          function (res) {
            return res.json().then(function (json) {
              if (json.error) return { error: json.error };
              if (params.redirect === 'if_required') return { setupIntent: json };
              location.assign(returnUrl + (returnUrl.indexOf('?') < 0 ? '?' : '&') + new URLSearchParams({ setup_intent: json.id, setup_intent_client_secret: secret, redirect_status: json.status }));
              return new Promise(function () {});
            });
          },
          function () {
            return { error: { type: 'api_connection_error', message: 'Stripe could not be reached.' } };
          },
        );
      },
      confirmPayment: function (params) {
        var secret = params.elements.clientSecret;
        var returnUrl = params.confirmParams && params.confirmParams.return_url;
        var body = new URLSearchParams({ key: key, client_secret: secret, return_url: returnUrl });
        return fetch(base + '/v1/payment_intents/' + encodeURIComponent(secret.split('_secret_')[0]) + '/confirm', { method: 'POST', body: body }).then(
          function (res) {
            return res.json().then(function (json) {
              if (json.error) return { error: json.error };
              if (params.redirect === 'if_required') return { paymentIntent: json };
              location.assign(returnUrl + (returnUrl.indexOf('?') < 0 ? '?' : '&') + new URLSearchParams({ payment_intent: json.id, payment_intent_client_secret: secret, redirect_status: json.status }));
              return new Promise(function () {});
            });
          },
          function () {
            return { error: { type: 'api_connection_error', message: 'Stripe could not be reached.' } };
          },
        );
      },
    };
  };
})();
`;
}
