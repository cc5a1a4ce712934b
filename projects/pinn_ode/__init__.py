"""Physics-informed neural networks that solve ODEs: forward, inverse and parametric.

Light on purpose (no TensorFlow import): the CLI reads TITLE and HEADLINE from here.
"""

TITLE = "Physics-informed networks for ODEs (forward, inverse, parametric)"
#: (dotted key into results/metrics.json, label) shown in the root README and `capstone list`
HEADLINE = ("headline.model_value",
            "damped oscillator, inverse: parameter error % (median of 3 seeds; least squares through solve_ivp beside)")
