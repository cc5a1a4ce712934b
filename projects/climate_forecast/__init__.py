"""Global-warming forecasts: a hybrid network on the strongest classical model's errors, with unit-root tests.

Light on purpose (no TensorFlow import): the CLI reads TITLE and HEADLINE from here.
"""

TITLE = ("Global temperature forecasts (GISTEMP): a GRU hybrid on the errors of trend + late-year residual, "
         "against ARIMA, ETS and trend baselines, with DF/ADF/KPSS/PP tests")
#: (dotted key into results/metrics.json, label) shown in the root README and `capstone list`
HEADLINE = ("headline.model_value",
            "hybrid MAE at h = 1 year (°C), rolling origins from 1990 on the embedded GISTEMP v4 annual means")
