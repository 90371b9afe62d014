"""Host side of the tiny decoder: the task, training, the float and int8 numpy models, the converter.

May import: the standard library, numpy (torch for train.py only) and tinylm. The int8
numpy model is an oracle of the host tests, so nothing here runs a target.
"""
