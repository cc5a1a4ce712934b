"""Global-warming forecasts: a hybrid network on the strongest classical model's errors, with unit-root tests.

Light on purpose (no TensorFlow import): the CLI reads TITLE from here; the headline
(model against its strongest baseline) is the ``headline`` block of results/metrics.json.
"""

TITLE = ("Global temperature forecasts (GISTEMP): a GRU hybrid on the errors of trend + late-year residual, "
         "against ARIMA, ETS and trend baselines, with DF/ADF/KPSS/PP tests")
