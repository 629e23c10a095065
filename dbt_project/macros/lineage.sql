{#- The ingestion's lineage columns (kodomo.contracts.LINEAGE_COLUMNS) under the names the models use: where and
    when each version was delivered, which breaks ties between versions recorded at the same time. -#}
{% macro lineage_columns() -%}
        _file as source_file,
        _line as source_line,
        _delivery_date as delivered_on,
        _seq as delivery_seq
{%- endmacro %}
