"""Host side of the tiny decoder: the task, training, the float and int8 numpy models, the converter."""
