"""Fine-tuning tools: export reviewers' corrections, train a LoRA adapter, evaluate and promote it.

Never imported by ``appliance/``. Heavy imports (torch, transformers, peft, outlines) live only in
the modules that need them; ``finetune.scoring`` is pure Python.
"""
