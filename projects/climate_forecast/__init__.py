"""Global-warming forecasts: recurrent networks beside classical models, with unit-root tests.

Light on purpose (no TensorFlow import): the CLI reads TITLE and HEADLINE from here.
"""

TITLE = "Climate series forecasts (LSTM/GRU ensembles vs ARIMA, ETS, trend baselines) with DF/ADF/KPSS/PP tests"
#: (dotted key into results/metrics.json, label) shown in the root README and `capstone list`
HEADLINE = ("targets.network_mae_h1.value",
            "GRU ensemble MAE at the first horizon, rolling-origin backtest on the default Mauna Loa CO2 (ppm)")
