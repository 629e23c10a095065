"""What the app reads and writes, without Streamlit: each module takes a connection and returns frames or
dataclasses. The pages only render what these functions return.

Reads go to the published warehouse's marts and the model's scores (never the delivered records, the quarantine or
the model's input tables); what people do goes to the operational store (``kodomo.operational``).
"""
