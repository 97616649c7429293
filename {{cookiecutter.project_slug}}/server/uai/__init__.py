"""UAI compatibility package: the base classes existing UAI inference code imports.

`uai.arch.<framework>_model` keeps the original import paths; `uai.frameworks` computes
the model files each conf section names. Nothing here imports a machine-learning framework.
"""
