"""Host side of the models: the tasks (task.py, gesture.py), the torch modules (nets.py),
training (train.py), the float and int8 numpy models, the converter and export.

May import: the standard library, numpy and tinylm; torch in nets.py and train.py only
(export.py imports it only to read a .pt checkpoint), so make test runs without torch.
The int8 numpy model is an oracle of the host tests, so nothing here runs a target.
"""
