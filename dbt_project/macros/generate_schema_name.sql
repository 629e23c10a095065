{#- Models land in the schema their layer names (staging, intermediate, marts, reference), not in
    "<target schema>_<layer>": the warehouse is shared with the ingestion's raw/valid/quarantine schemas. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}
