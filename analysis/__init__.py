"""Theory and analysis for ionsim.

``analysis.theory`` (Nernst, Goldman-Hodgkin-Katz, Donnan, Debye length),
``analysis.activity`` (Debye-Hueckel and Davies activity coefficients),
``analysis.cell`` (membrane capacitor and the ion budget of a real cell) and
``analysis.statistics`` (means of correlated time series with standard errors) are plain
functions of numbers; analyses of finished runs live beside them and run as
``python -m analysis.<name> RUN_DIR``.
"""
