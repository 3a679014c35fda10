// The usage chart: Chart.js's bar chart only (its registerables one by one, so the bundle carries
// no other chart type). Bars are stacked per day, one dataset per workspace and service. A bar's
// height is the one place an amount becomes a number: the engine's display string, for pixels
// only; the tooltip shows the string itself, and the page's table below the chart is its text.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

const COLORS = ['#2f6fd6', '#d9822b', '#2e9e5b', '#a34fc2', '#c0392b', '#1f8a99', '#8a6d1f', '#5a6275'];

export function drawUsage(canvas, daily) {
  const days = [...new Set(daily.map((d) => d.day))].sort();
  const keys = [...new Set(daily.map((d) => (d.workspaceId ?? '-') + ' · ' + (d.service ?? '-')))];
  const datasets = keys.map((key, i) => {
    const rows = new Map(daily.filter((d) => (d.workspaceId ?? '-') + ' · ' + (d.service ?? '-') === key).map((d) => [d.day, d]));
    return {
      label: key,
      backgroundColor: COLORS[i % COLORS.length],
      data: days.map((day) => (rows.has(day) ? Number(rows.get(day).display) : null)),
      shown: days.map((day) => (rows.has(day) ? rows.get(day).display : null)),
    };
  });
  return new Chart(canvas, {
    type: 'bar',
    data: { labels: days, datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } },
      plugins: { tooltip: { callbacks: { label: (item) => item.dataset.label + ': ' + item.dataset.shown[item.dataIndex] } } },
    },
  });
}
