set terminal pngcairo size 900,600 noenhanced font 'sans,11'
set output 'docs/experiments/real-footage/tradeoff-real.png'
set datafile separator ','
set key bottom right
set grid
set xlabel 'tokens per clip (16 frames x 64x64)'
set ylabel 'PSNR (dB), held-out clips'
set title 'EVATok quality-cost trade-off'
plot 'docs/experiments/real-footage/eval-real.summary.csv' using (strcol(1) eq 'uniform' ? $4 : NaN):5 with linespoints lw 2 pt 7 title 'uniform K per block', \
     '' using (strcol(1) eq 'router' ? $4 : NaN):5 with linespoints lw 2 pt 5 title 'router (wq sweep)', \
     '' using (strcol(1) eq 'search' ? $4 : NaN):5 with linespoints lw 2 pt 9 title 'max proxy reward, exact (wq sweep)', \
     '' using (strcol(1) eq 'baseline' ? $4 : NaN):5 with points pt 13 ps 2 title 'uniform-trained baseline'
